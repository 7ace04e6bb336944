from experiments.ddpm_mnist.main import main

main()
