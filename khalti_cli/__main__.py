from khalti_cli.cli.entry import main

main()
