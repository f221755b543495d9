"""The lesson itself: truth tables, the network, the chain rule, when a net has learned (torch only)."""
