"""A variational autoencoder on Fashion-MNIST (the course's Keras example), measured by its
test negative ELBO and importance-weighted bound."""
