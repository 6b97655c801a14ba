"""One plain function per command: arguments in, exit code out."""
