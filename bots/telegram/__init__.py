"""The Telegram channel: webhook ingress, ordered processing, inline keyboards and paced sending."""
