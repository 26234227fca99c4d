"""Neural building blocks: encoders, heads, losses, augmentations."""
