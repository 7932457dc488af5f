"""The queue comparison: taskplane against its peers, as deployed and through one shared loop."""
