"""Reading the user's files: YAML with line numbers, bundle files from git or a folder."""
