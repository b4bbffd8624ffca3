"""Rules: each finds one kind of dead weight in one service and says what a fix saves. Rules never print."""
