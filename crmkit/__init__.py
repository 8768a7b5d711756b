"crm-kit: the command line and server setup around the crm_kit Tryton modules"
