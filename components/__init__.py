"""ComponentResources of the HCI program: HciCluster builds Node, CephCluster, Vm and Ha from an HciConfig."""
