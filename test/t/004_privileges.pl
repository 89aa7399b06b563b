# Settings that weaken the guard belong to superusers and roles granted SET on them: an
# ordinary role cannot switch the guard off by SET, PGOPTIONS or ALTER ROLE ... SET.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('privileges');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'zero_downtime'");
$node->start;
$node->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
CREATE ROLE migrator LOGIN;
GRANT CREATE ON SCHEMA public TO app, migrator;
});
$node->safe_psql('postgres', 'CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1);',
    extra_params => [ '-U', 'app' ]);

sub as_role {
    my ($role, $sql, %env) = @_;
    local %ENV = (%ENV, %env);
    my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', $role ]);
    return ($ret, $err);
}

my ($ret, $err);
foreach my $setting ('zero_downtime.mode = off', "zero_downtime.allow = 'drop-table'",
    "zero_downtime.small_table_size = '100GB'", "zero_downtime.lock_timeout = '1h'") {
    ($ret, $err) = as_role('app', "SET $setting");
    like($err, qr/permission denied to set parameter/, "an ordinary role cannot SET $setting");
}
{
    # (The statement in -c, not on psql's stdin: the connection is refused, and psql may exit
    # before the test writes to it, a broken pipe.)
    local $ENV{PGOPTIONS} = '-c zero_downtime.mode=off';
    (undef, $err) = run_command([ 'psql', '-X', '-d', $node->connstr('postgres'), '-U', 'app',
                                  '-c', 'SELECT 1' ]);
}
like($err, qr/permission denied to set parameter "zero_downtime.mode"/,
    'nor pass it in PGOPTIONS at connection');
($ret, $err) = as_role('app', 'ALTER ROLE app SET zero_downtime.mode = off');
like($err, qr/permission denied to set parameter "zero_downtime.mode"/,
    'nor store it with ALTER ROLE ... SET');
($ret, $err) = as_role('app', 'DROP TABLE accounts');
like($err, qr/ERROR:  drop-table:/, 'so its DDL stays guarded');

# A role granted SET on the parameter can use it, by every route.
$node->safe_psql('postgres', 'GRANT SET ON PARAMETER zero_downtime.allow TO migrator');
($ret, $err) = as_role('migrator', "SET zero_downtime.allow = 'drop-table'; SHOW zero_downtime.allow");
is($ret, 0, 'a role granted SET on the parameter can SET it');
($ret, $err) = as_role('migrator', 'SHOW zero_downtime.allow',
    PGOPTIONS => '-c zero_downtime.allow=drop-table');
is($ret, 0, 'and pass it in PGOPTIONS');
($ret, $err) = as_role('migrator', "SET zero_downtime.mode = off");
like($err, qr/permission denied/, 'but only the parameter it was granted');

# The administrator decides for a role with ALTER ROLE ... SET.
$node->safe_psql('postgres', 'ALTER ROLE app SET zero_downtime.mode = warn');
is($node->safe_psql('postgres', 'SHOW zero_downtime.mode', extra_params => [ '-U', 'app' ]),
    'warn', 'a superuser can set the mode for a role');

$node->stop;
done_testing();
