"""MNIST: a CNN whose architecture and learning rate are searched, explained with Grad-CAM."""
