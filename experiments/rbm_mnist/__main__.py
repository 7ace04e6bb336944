from experiments.rbm_mnist.main import main

main()
