"""Colourisation: a gray image's colours predicted by an encoder-decoder (CIFAR-10 or
Fruits-360), scored by PSNR, SSIM and the CIE Lab chroma error against two baselines."""
