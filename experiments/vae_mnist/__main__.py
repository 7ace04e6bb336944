from experiments.vae_mnist.main import main

main()
