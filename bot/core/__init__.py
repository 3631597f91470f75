"""The channel-agnostic core: text in, a structured ``Reply`` out. Answers, intent, conversation memory and
insights; it imports the index, storage and the shared vocabulary, never aiohttp, an SDK or a channel."""
