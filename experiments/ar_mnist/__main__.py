from experiments.ar_mnist.main import main

main()
