"""HTTP entry points: the JSON API, the pages and sign-in."""
