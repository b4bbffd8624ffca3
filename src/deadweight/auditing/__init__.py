"""``deadweight audit``: wire project, image, inventory, usage and rules together for each service."""
