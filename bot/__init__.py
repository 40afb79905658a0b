"""Everything that knows Slack: the poster, Block Kit views, and (later) Bolt listeners."""
