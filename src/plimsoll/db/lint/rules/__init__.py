"""The built-in lint rules, one per module, grouped in folders by topic."""
