"""fakepve route tables per API area; thin handlers over the lab's state and its Ceph backend."""
