"""``code_assistant``: go to definition, references and completions asked of jedi at real
positions of changed Python files, each request timed and checked against the code index."""
