"""The HTTP and command-line shell."""
