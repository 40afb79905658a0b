"""The built-in sandbox: Slack and Twilio emulators in-process, and a page to drive them."""
