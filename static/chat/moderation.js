// Placeholder: the moderation helper owns this file (room-page moderation controls).
