"""Measuring: the engines, the session that sets every measurement up, the run policy, request pools,
statistics and inputs."""
