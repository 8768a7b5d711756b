"""What the fixtures hold beyond `crm-kit demo`, which makes no API key,
attachment nor webhook: one of each, made by the release's own code.

Run with the release's tree first on the path, after `crm-kit demo`
(README.md of this folder):

    python tests/data/upgrade/extras.py DATABASE

It uses nothing but crmkit.cli.run_in_transaction and the ORM, so that
the next release's code runs it too.  tests/test_upgrade.py knows these
values (REP_KEY, ATTACHMENT, WEBHOOK): keep them in step."""
import sys

# rep's API key: the upgraded database must still accept it.
REP_KEY = 'upgrade-fixture-key-of-rep-0123456789abcdef'
ATTACHMENT = ('notas-upgrade.txt',
    "Llamó el 3 de marzo: quiere la demo.\n".encode())
WEBHOOK = ('Upgrade fixture', 'https://example.com/crm-kit-hook',
    'upgrade-fixture-webhook-secret-0123456789')


def create():
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Application = pool.get('res.user.application')
    Attachment = pool.get('ir.attachment')
    Company = pool.get('company.company')
    Opportunity = pool.get('sale.opportunity')
    User = pool.get('res.user')
    Webhook = pool.get('crm.webhook')
    company, = Company.search([], limit=1)
    rep, = User.search([('login', '=', 'rep')])
    admin, = User.search([('login', '=', 'admin')])
    with Transaction().set_context(company=company.id):
        with Transaction().set_user(rep.id):
            Application.create([{'name': "Web site", 'new_key': REP_KEY}])
            # The first of rep's opportunities.
            opportunity, = Opportunity.search(
                [('owner', '=', rep.id)], order=[('id', 'ASC')], limit=1)
            name, data = ATTACHMENT
            Attachment.create([{
                        'resource': str(opportunity), 'name': name,
                        'data': data}])
        with Transaction().set_user(admin.id):
            name, url, secret = WEBHOOK
            Webhook.create([{
                        'name': name, 'url': url,
                        'events': ['opportunity.won'],
                        'new_secret': secret}])


if __name__ == '__main__':
    from crmkit import cli
    cli.run_in_transaction(sys.argv[1], create)
    print("API key, attachment and webhook created.")
