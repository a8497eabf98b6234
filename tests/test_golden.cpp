// golden placeholder
