"""The ``llm-sidecar`` command's exit codes (docs/cli.md): 0 done, 1 invalid (a policy, a request, a port
that cannot be listened on), 2 a usage error (a flag, a setting, a file that cannot be read)."""

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
