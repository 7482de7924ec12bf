"""The `td3her` command line: parse options, call the library, show the result."""
