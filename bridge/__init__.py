"""The domain: routing texts to threads, consent, delivery; Slack and Twilio only via ports."""
