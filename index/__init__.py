"""Documents -> passages -> embeddings -> hybrid search. Never imports the bot package."""
