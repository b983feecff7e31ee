from khalti_cli.cli.app import main

main()
