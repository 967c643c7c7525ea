"""fakepve route tables, one mixin per API area; thin handlers over the lab's models and Ceph adapters."""
