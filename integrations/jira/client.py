"""Build jira.JIRA clients that never retry or sleep on their own: Temporal owns retrying."""

from jira import JIRA

from integrations.jira.config import BasicAuth, JiraConfig

DEPLOYMENT_TYPES = {"server": "Server", "cloud": "Cloud"}


def build_client(config: JiraConfig) -> JIRA:
    """A client with a timeout on every request and max_retries=0 (else the library retries).

    When config.deployment is None, the constructor asks serverInfo, because the library picks
    /search (Server/DC) or /search/jql (Cloud) from serverInfo's deploymentType.
    """
    detect = config.deployment is None
    options: dict[str, str | bool] = {"check_update": False}
    if isinstance(config.auth, BasicAuth):
        client = JIRA(
            server=config.url,
            options=options,
            basic_auth=(config.auth.email, config.auth.api_token.get_secret_value()),
            timeout=config.timeout_seconds,
            max_retries=0,
            get_server_info=detect,
        )
    else:
        client = JIRA(
            server=config.url,
            options=options,
            token_auth=config.auth.token.get_secret_value(),
            timeout=config.timeout_seconds,
            max_retries=0,
            get_server_info=detect,
        )
    if config.deployment is not None:
        client.deploymentType = DEPLOYMENT_TYPES[config.deployment]
    return client
