from accounts.access import is_open_access


def access(request) -> dict:
    """Every page says when anyone who can reach the port can start jobs."""
    return {"open_access": is_open_access()}
