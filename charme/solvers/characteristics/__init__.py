"""First-order PDEs by the method of characteristics."""
