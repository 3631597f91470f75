"""Documents -> passages -> embeddings -> hybrid search. Never imports the bot package."""

import os

# OpenMP worker threads (PyTorch's and FAISS's) sleep as soon as their work is done instead of spinning for a
# while. Spinning makes a lone question several milliseconds faster (13 against 20 ms), but on a two-core server answering many chats
# the spinning workers take the cores from the event loop and from the next batch: Teams replies at 16
# concurrent conversations had a p99 of 474-604 ms spinning and 342-365 ms sleeping (`policybot bench --teams`,
# three runs each). Set before either library is loaded; an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
