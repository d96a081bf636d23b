"""A convolutional autoencoder with a two-number code and K-means (k = 2) on two-class image
pairs, in RGB and grayscale, scored by the adjusted Rand index and clustering accuracy on the
test images beside K-means on raw pixels and on PCA(2)."""
