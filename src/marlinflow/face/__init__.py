"""Face detection, tracking, landmarks, crop/alignment and parsing maps."""
