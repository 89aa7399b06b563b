# The guard's tables cover PostgreSQL as built: every statement node tag of the server's
# headers (nodes.h's "statement nodes" section on 15, nodetags.h since 16) has an entry in
# zd_statement_kinds(), and every AlterTableType of parsenodes.h one in
# zd_alter_table_subcommands(), in the enum's order.
# A new server version with a statement the tables do not know fails here first.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $includedir = `pg_config --includedir-server`;
chomp $includedir;

sub read_file_text {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return <$fh>;
}

# PostgreSQL 15 lists the statement nodes in a section of nodes.h.  From 16 on the tags are
# generated into nodetags.h, without sections: there the statement tags are taken as 15's
# section is made: every *Stmt tag, with Query and AlterTableCmd (its only others).
my $nodes = read_file_text("$includedir/nodes/nodes.h");
my @tags;
if (my ($section) = $nodes =~ /TAGS FOR STATEMENT NODES.*?\n(.*?)TAGS FOR PARSE TREE NODES/s) {
    @tags = sort map { s/^T_//r } ($section =~ /\b(T_\w+)/g);
} else {
    my $nodetags = read_file_text("$includedir/nodes/nodetags.h");
    my %seen;
    @tags = sort grep { !$seen{$_}++ }
      map { s/^T_//r } ($nodetags =~ /\b(T_\w+Stmt|T_Query|T_AlterTableCmd)\b/g);
}
cmp_ok(scalar @tags, '>', 100, scalar(@tags) . ' statement node tags in the server\'s headers');

my $parsenodes = read_file_text("$includedir/nodes/parsenodes.h");
my ($enum) = $parsenodes =~ /typedef enum AlterTableType\s*\{(.*?)\}\s*AlterTableType;/s;
$enum =~ s{/\*.*?\*/}{}gs;
my @subtypes = ($enum =~ /\b(AT_\w+)/g);
cmp_ok(scalar @subtypes, '>', 60, scalar(@subtypes) . ' ALTER TABLE subcommands in parsenodes.h');

my $node = PostgreSQL::Test::Cluster->new('kinds');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'zero_downtime'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION zero_downtime');

my @known = sort split /\n/,
  $node->safe_psql('postgres', 'SELECT node_tag FROM zd_statement_kinds()');
is_deeply(\@known, \@tags, 'zd_statement_kinds() has exactly the statement tags of the headers');

my @listed = split /\n/,
  $node->safe_psql('postgres', 'SELECT subtype FROM zd_alter_table_subcommands()');
is_deeply(\@listed, \@subtypes,
    'zd_alter_table_subcommands() has exactly parsenodes.h\'s AlterTableType, in its order');

# Each subcommand PostgreSQL's grammar produces has its spelling; the ones it does not are
# those only PostgreSQL's own transformation makes.
my $grammar_made = $node->safe_psql('postgres',
    'SELECT count(*) FROM zd_alter_table_subcommands() WHERE spelling IS NOT NULL');
cmp_ok($grammar_made, '>=', 55, "$grammar_made subcommands with a spelling");

# A statement kind gathered for the first time by these tables: ALL IN TABLESPACE moves each
# table as SET TABLESPACE would, so the set-tablespace rule judges each one.
my $dir = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres', qq{
    CREATE TABLESPACE elsewhere LOCATION '$dir';
    CREATE ROLE app;
    CREATE TABLE app_t (id int);
    INSERT INTO app_t SELECT generate_series(1, 100);
    ALTER TABLE app_t OWNER TO app;});
my ($ret, $out, $err) = $node->psql('postgres',
    "SET zero_downtime.small_table_size = 0; "
  . "ALTER TABLE ALL IN TABLESPACE pg_default OWNED BY app SET TABLESPACE elsewhere");
like($err, qr/set-tablespace/, 'ALL IN TABLESPACE: refused by set-tablespace') or diag($err);
is($node->safe_psql('postgres',
        q{SELECT reltablespace FROM pg_class WHERE relname = 'app_t'}),
    '0', 'and app_t was not moved');

$node->stop;
done_testing();
