"""The WhatsApp channel (Cloud API through pywa_async): webhook, rendering, sending, delivery states."""
