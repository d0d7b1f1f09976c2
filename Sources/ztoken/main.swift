import ZTokenCLI

ZToken.main()
