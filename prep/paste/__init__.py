"""`wood paste`: Simple Copy-Paste of train instances onto train backgrounds -> a new prepared folder."""
