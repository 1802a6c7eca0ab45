"""The web edge: HTTP routes, Socket.IO handlers, guards and the one emitter to browsers."""
