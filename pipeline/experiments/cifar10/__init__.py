"""CIFAR-10: a searched GAP CNN with CAM and Grad-CAM; the course report's four setups."""
