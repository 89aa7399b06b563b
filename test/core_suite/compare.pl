#!/usr/bin/env perl
# Compares the guarded runs of PostgreSQL's core regression suite with the plain run of the
# same invocation of test/core_suite/run.sh.  Perl because PostgreSQL's own packages need it.
#
#   compare.pl warn PLAIN_DIR WARN_DIR FILTERED_DIR
#     Removes from each WARN_DIR/results/<test>.out the guard's WARNING blocks, writes what is
#     left to FILTERED_DIR/<test>.out and compares it with PLAIN_DIR/results/<test>.out.
#     Prints "differs: <test>" per test that still differs, "rule: <rule> <count>" per rule
#     warned about, and the last line "warn: tests=N warned=N differing=N".
#     Exit 0 only if no test differs.
#
#   compare.pl enforce PLAIN_DIR ENFORCE_DIR RULE_CATALOG LIST_FILE MAJOR META [--write]
#     Finds every test whose ENFORCE_DIR output differs from the plain one and the rules that
#     the guard's lines in it name (a refusal "ERROR:  <rule>: ...", a rewrite "NOTICE:
#     zero_downtime: <rule>: ...; running its safe form instead").  A differing test without
#     any guard line differs because of what an earlier refusal left behind: rule "knock-on".
#     Compares the set of (rule, test) pairs with the one LIST_FILE documents in the section of
#     MAJOR ("# PostgreSQL MAJOR"); prints
#     "new: <rule> <test>" (in the run, not in the list) and "stale: <rule> <test>" (listed, not
#     in the run); the last line "enforce: tests=N differing=N pairs=N listed=N".
#     --write regenerates MAJOR's section of LIST_FILE from the run instead (keeping the prose
#     under each rule and the other majors' sections; META names the suite and server in its
#     header).
#     Exit 0 only if the sets are equal (or the file was written).
#
# The guard's WARNING in psql's output is "WARNING:  zero_downtime: <message>", then
# "DETAIL:  <detail>" and "HINT:  <hint>"; a message, detail or hint with several lines is
# printed as is, so its continuation lines look like anything (SQL, "COMMIT;", ...) and no
# pattern can tell where a hint ends.  The server log has the same texts with every
# continuation line prefixed by a tab (elog.c, append_with_tabs), so this script reads the
# exact blocks from the log and removes exactly those lines, never a line of the test's own.
use strict;
use warnings;

sub slurp_lines {
  my ($path) = @_;
  open(my $fh, '<:raw', $path) or return undef;
  local $/;
  my $text = <$fh>;
  close $fh;
  return [split /\n/, $text, -1];
}

sub write_lines {
  my ($path, $lines) = @_;
  open(my $fh, '>:raw', $path) or die "cannot write $path: $!\n";
  print $fh join("\n", @$lines);
  close $fh;
}

sub result_tests {
  my ($dir) = @_;
  opendir(my $dh, "$dir/results") or die "no $dir/results\n";
  my @tests = sort map { /^(.*)\.out$/ ? $1 : () } readdir $dh;
  closedir $dh;
  return @tests;
}

sub same {
  my ($a, $b) = @_;
  return 0 unless defined $a && defined $b && @$a == @$b;
  for my $i (0 .. $#$a) { return 0 unless $a->[$i] eq $b->[$i]; }
  return 1;
}

# ---------------------------------------------------------------------------------------------
# warn

# The guard's WARNING blocks, as psql prints them, read from a server log written with
# log_line_prefix = '%m [%p] ' (run.sh sets it).  Returns { first line => [ [lines], ... ] }.
sub guard_blocks_from_log {
  my ($log) = @_;
  my $lines = slurp_lines($log) or die "cannot read $log\n";
  my @entries;    # [pid, field, text]
  for my $l (@$lines) {
    if ($l =~ /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] +(?:\S+ )?([A-Z]+):  (.*)$/) {
      push @entries, [$1, $2, $3];
    } elsif ($l =~ /^\t(.*)$/s && @entries) {
      $entries[-1][2] .= "\n$1";
    } else {
      push @entries, [0, '', $l];
    }
  }
  my %blocks;
  for my $i (0 .. $#entries) {
    my ($pid, $field, $text) = @{$entries[$i]};
    next unless $field eq 'WARNING' && $text =~ /^zero_downtime: /;
    my @block = ("WARNING:  $text");
    my @context;
    for (my $j = $i + 1; $j <= $#entries && $entries[$j][0] eq $pid; $j++) {
      my ($f, $t) = @{$entries[$j]}[1, 2];
      if ($f eq 'DETAIL' || $f eq 'HINT') { push @block, "$f:  $t"; }
      elsif ($f eq 'CONTEXT') { push @context, "$f:  $t"; }
      elsif ($f ne 'STATEMENT' && $f ne 'LOCATION' && $f ne 'QUERY') { last; }
    }
    # psql shows CONTEXT for a warning only under \set SHOW_CONTEXT always: both forms.
    for my $form ([split /\n/, join("\n", @block), -1],
                  @context ? [split /\n/, join("\n", @block, @context), -1] : ()) {
      my $key = join("\n", @$form);
      my $list = $blocks{$form->[0]} //= [];
      push @$list, $form unless grep { join("\n", @$_) eq $key } @$list;
    }
  }
  return \%blocks;
}

sub warn_mode {
  my ($plain, $guarded, $filtered) = @_;
  my $blocks = guard_blocks_from_log("$guarded/log/postmaster.log");
  my (%rules, $warned, @differs);
  my @tests = result_tests($plain);
  for my $test (@tests) {
    my $p = slurp_lines("$plain/results/$test.out");
    my $g = slurp_lines("$guarded/results/$test.out");
    if (!defined $g) { push @differs, "$test (no result)"; next; }
    my (@out, $n);
    for (my $i = 0; $i < @$g;) {
      my $best = 0;
      for my $form (@{$blocks->{$g->[$i]} // []}) {
        next if @$form <= $best || $i + @$form > @$g;
        my $k = 0;
        $k++ while $k < @$form && $g->[$i + $k] eq $form->[$k];
        $best = scalar @$form if $k == @$form;
      }
      if ($best) {
        $rules{$1}++ if $g->[$i] =~ /^WARNING:  zero_downtime: ([a-z][a-z-]*): /;
        $n++;
        $i += $best;
      } else {
        push @out, $g->[$i++];
      }
    }
    $warned++ if $n;
    write_lines("$filtered/$test.out", \@out);
    push @differs, $test unless same($p, \@out);
  }
  print "rule: $_ $rules{$_}\n" for sort keys %rules;
  print "differs: $_\n" for @differs;
  printf "warn: tests=%d warned=%d differing=%d\n", scalar @tests, $warned // 0, scalar @differs;
  return @differs ? 1 : 0;
}

# ---------------------------------------------------------------------------------------------
# enforce

# Default "why" text of each rule, used when the list gets a rule it did not have.  The text
# under an existing rule heading is kept when the list is regenerated.
my %why = (
  'drop-table' =>
    "Dropping a table that holds rows breaks every deployed query that names it the moment "
    . "it commits, and its rows are gone: that is true of a 10-row table as much as of a big "
    . "one, so the rule ignores size.  The suite drops its fixtures because no running code "
    . "uses them; in production the code must stop using the table first, then the drop is "
    . "run with SET LOCAL zero_downtime.allow = 'drop-table'.",
  'drop-column' =>
    "Dropping a column that holds data breaks the deployed code still reading or writing it "
    . "(SELECT lists, INSERT column lists, ORMs that cached the table's columns) and loses the "
    . "data, whatever the table's size.  In production the code stops using the column first; "
    . "the refusal makes that order explicit.",
  'rename-column' =>
    "A rename is visible to every session at commit: each deployed query that uses the old "
    . "name fails from then on, on a tiny table as on a big one.  Production renames by "
    . "expand/contract (new column, copy, switch code, drop old) or allows the rename once no "
    . "code uses the old name.",
  'rename-table' =>
    "Renaming a table breaks every deployed query that uses the old name at commit, "
    . "regardless of its size; production renames with a view under the old name in the same "
    . "transaction, as the hint shows.",
  'reindex' =>
    "REINDEX blocks writes to the table (and every query using the index) for the whole "
    . "rebuild.  The suite's REINDEX SCHEMA/DATABASE/SYSTEM statements name no single table, so "
    . "the guard cannot know they are small and treats them as production-sized: it runs "
    . "REINDEX ... CONCURRENTLY instead, or refuses inside a transaction block, where "
    . "CONCURRENTLY cannot run.",
  'cluster' =>
    "CLUSTER rewrites each table under an ACCESS EXCLUSIVE lock, blocking every read and "
    . "write until it is done.  A bare CLUSTER covers every previously clustered table of the "
    . "database, whose sizes the guard cannot bound, so it is refused; online alternatives are "
    . "pg_repack or pg_squeeze, or an explicit allow in a maintenance window.",
  'vacuum-full' =>
    "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; without a table list it covers "
    . "every table of the database, which the guard cannot bound by size.",
  'refresh-materialized-view' =>
    "REFRESH without CONCURRENTLY blocks every read of the view while it is recomputed; on "
    . "production data that is as long as the view's query takes.",
  'create-index' =>
    "CREATE INDEX without CONCURRENTLY blocks every write for the whole build; on a "
    . "production-sized table that is minutes, so the guard runs the CONCURRENTLY form.",
  'drop-index' =>
    "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table, so it "
    . "queues behind long queries and every later query queues behind it.",
  'detach-partition' =>
    "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned "
    . "table, blocking every query on every partition.",
  'knock-on' =>
    "These tests run no statement the guard stops; they differ because an earlier test's "
    . "statement was refused, so an object that test meant to drop or rename is still there "
    . "(in the catalogue queries of type_sanity, in plans, in column names).  It follows from "
    . "the refusals listed above and needs no decision of its own.",
);

sub default_why {
  my ($rule, $catalog_text) = @_;
  return $why{$rule} if $why{$rule};
  return ucfirst($catalog_text // $rule) . ": on a production-sized table that blocks the "
    . "application for the whole operation.  The suite's table is small, but the guard only "
    . "exempts tables it can measure below zero_downtime.small_table_size.";
}

sub read_catalog {
  my ($path) = @_;
  my $src = slurp_lines($path) or die "cannot read $path\n";
  my %rules;
  my $text = join("\n", @$src);
  while ($text =~ /\{\s*"([a-z][a-z-]*)",\s*"((?:[^"\\]|\\.)*)"/g) { $rules{$1} = $2; }
  die "no rules found in $path\n" unless %rules;
  return \%rules;
}

# The statement psql echoed right before line $i (pg_regress runs psql -a): the lines back to
# the nearest unindented one that starts with a command, without comments, on one line.
sub statement_before {
  my ($lines, $i) = @_;
  my @stmt;
  for (my $j = $i - 1; $j >= 0 && $j >= $i - 25; $j--) {
    my $l = $lines->[$j];
    last if $l eq '' || $l =~ /^(ERROR|WARNING|NOTICE|INFO|DETAIL|HINT|CONTEXT|QUERY|LINE \d+):/
      || $l =~ /^\(\d+ rows?\)$/;
    unshift @stmt, $l;
    last if $l =~ /^(alter|drop|create|reindex|vacuum|cluster|refresh|truncate|lock|do|select|
                        call|execute|begin|start|with|insert|update|delete|comment|grant|revoke|
                        set|reset|analyze|commit|rollback|savepoint|release|prepare|\\)/xi;
  }
  my $text = join(' ', map { (my $s = $_) =~ s/\s+--\s.*$//; $s =~ /^\s*--/ ? () : $s } @stmt);
  $text =~ s/\s+/ /g;
  $text =~ s/^ | $//g;
  $text = substr($text, 0, 150) . ' ...' if length($text) > 154;
  return $text;
}

sub enforce_findings {
  my ($plain, $guarded, $catalog) = @_;
  my $rule_re = join('|', map { quotemeta } sort { length($b) <=> length($a) } keys %$catalog);
  my (%found, @differs);    # $found{$rule}{$test} = { statements => [..], refused, rewritten }
  my @tests = result_tests($plain);
  for my $test (@tests) {
    my $p = slurp_lines("$plain/results/$test.out");
    my $g = slurp_lines("$guarded/results/$test.out");
    if (!defined $g) {
      push @differs, $test;
      $found{'missing-result'}{$test} = {statements => [], count => 0, excerpt => 'no result file'};
      next;
    }
    next if same($p, $g);
    push @differs, $test;
    my $any = 0;
    for my $i (0 .. $#$g) {
      my ($rule, $how);
      if ($g->[$i] =~ /^ERROR:  ($rule_re): /) { ($rule, $how) = ($1, 'refused'); }
      elsif ($g->[$i] =~ /^NOTICE:  zero_downtime: ($rule_re): .*; running its safe form instead$/) {
        ($rule, $how) = ($1, 'rewritten');
      } elsif ($g->[$i] =~ /^WARNING:  zero_downtime: ($rule_re): /) { ($rule, $how) = ($1, 'warned'); }
      elsif ($g->[$i] =~ /^NOTICE:  zero_downtime: .* not granted within /) { ($rule, $how) = ('lock-cap', 'retried'); }
      next unless $rule;
      $any = 1;
      my $entry = $found{$rule}{$test} //= {statements => [], count => 0};
      $entry->{count}++;
      $entry->{$how}++;
      my $stmt = statement_before($g, $i);
      $stmt = ($g->[$i] =~ s/^[A-Z]+:  (zero_downtime: )?//r) if $stmt eq '';
      push @{$entry->{statements}}, $stmt unless grep { $_ eq $stmt } @{$entry->{statements}};
    }
    next if $any;
    # The first line after the common start that the plain output does not have at all.
    my $k = 0;
    $k++ while $k < @$p && $k < @$g && $p->[$k] eq $g->[$k];
    my $norm = sub { my $x = shift; $x =~ s/\s+/ /g; $x =~ s/^ | $//g; $x };
    my %in_plain = map { $norm->($_) => 1 } @$p[$k .. $#$p];
    my $m = $k;
    $m++ while $m < @$g && ($in_plain{$norm->($g->[$m])} || $g->[$m] =~ /^[\s|+-]*$/);
    my $excerpt = $m < @$g ? sprintf('line %d: `%s`', $m + 1, $g->[$m] =~ s/`/'/gr)
                           : sprintf('line %d: lines missing', $k + 1);
    $excerpt =~ s/\s+/ /g;
    $found{'knock-on'}{$test} = {statements => [], count => 0, excerpt => $excerpt};
  }
  return (\%found, \@differs, scalar @tests);
}

# The list has one section per major, "# PostgreSQL N", after the title and the text shared by
# all (before the first section).  Returns ([majors in file order], { major => [lines] }).
sub read_sections {
  my ($path) = @_;
  my (@order, %sections, $major);
  my $lines = slurp_lines($path) // [];
  for my $l (@$lines) {
    if ($l =~ /^# PostgreSQL (\d+)\s*$/) { $major = $1; push @order, $major; $sections{$major} = []; next; }
    if ($l =~ /^# /) { $major = undef; next; }
    push @{$sections{$major}}, $l if defined $major;
  }
  return (\@order, \%sections);
}

# The (rule, test) pairs listed under MAJOR and the prose under each rule heading of its section.
sub read_list {
  my ($path, $major) = @_;
  my (%pairs, %prose, $rule, $in_items);
  my (undef, $sections) = read_sections($path);
  for my $l (@{$sections->{$major} // []}) {
    if ($l =~ /^## (\S+)/) { $rule = $1; $in_items = 0; $prose{$rule} = []; next; }
    next unless defined $rule;
    if ($l =~ /^- `([^`]+)`/) { $pairs{"$rule\t$1"} = 1; $in_items = 1; next; }
    push @{$prose{$rule}}, $l unless $in_items;
  }
  for my $r (keys %prose) {
    my @p = @{$prose{$r}};
    shift @p while @p && $p[0] =~ /^\s*$/;
    pop @p while @p && $p[-1] =~ /^\s*$/;
    $prose{$r} = \@p;
  }
  return (\%pairs, \%prose);
}

# Rewrites MAJOR's section from this run; the other majors' sections are kept as they are.
sub write_list {
  my ($path, $major, $found, $differs, $ntests, $catalog, $prose, $meta) = @_;
  my ($order, $sections) = read_sections($path);
  my @rules = sort { ($a eq 'knock-on') <=> ($b eq 'knock-on') || $a cmp $b } keys %$found;
  my @mine = (
    '',
    "Generated from: $meta.",
    sprintf('%d tests run, %d differ.', $ntests, scalar @$differs),
    '',
    '| rule | tests | guard refusals and rewrites |',
    '|---|---|---|',
  );
  for my $r (@rules) {
    my $n = 0;
    $n += $found->{$r}{$_}{count} for keys %{$found->{$r}};
    push @mine, sprintf('| %s | %d | %s |', $r, scalar keys %{$found->{$r}}, $r eq 'knock-on' ? '-' : $n);
  }
  for my $r (@rules) {
    push @mine, '', "## $r", '';
    my @p = $prose->{$r} && @{$prose->{$r}} ? @{$prose->{$r}}
          : ("Why this is right: " . default_why($r, $catalog->{$r}));
    push @mine, @p, '';
    for my $t (sort keys %{$found->{$r}}) {
      my $e = $found->{$r}{$t};
      if ($r eq 'knock-on' || $r eq 'missing-result') {
        push @mine, "- `$t`: first new line of the enforce output at $e->{excerpt}";
        next;
      }
      my @how = map { $e->{$_} ? "$e->{$_} $_" : () } qw(refused rewritten warned retried);
      my @s = @{$e->{statements}};
      my $more = @s > 5 ? sprintf(' (+%d more)', @s - 5) : '';
      splice(@s, 5) if @s > 5;
      push @mine, sprintf('- `%s` (%s): %s%s', $t, join(', ', @how),
                         join('; ', map { my $x = $_; $x =~ s/`/'/g; "`$x`" } @s), $more);
    }
  }
  push @mine, '';
  $sections->{$major} = \@mine;
  my @out = (
    '# zero_downtime in enforce mode: differences in PostgreSQL\'s core regression suite',
    '',
    'Every test of `parallel_schedule` whose output, with zero_downtime preloaded in `enforce`',
    'mode and default settings, differs from the plain server\'s output in the same run of',
    '`test/core_suite/run.sh`, grouped by the rule that caused it, one section per major (the',
    'suite of that major\'s own source against its server).  That script fails when the set of',
    '(rule, test) pairs of a run differs from the one listed in its major\'s section, so an',
    'unexplained new difference (or a stale entry) is caught.',
    '',
    'Regenerate a major\'s section with `ZD_CORE_UPDATE_LIST=1 test/core_suite/run.sh` (PG_CONFIG:',
    'that major\'s server): its lists are rebuilt from the run; the text under each rule heading',
    '(before its list) is kept, a new rule gets a placeholder to review; the other sections are',
    'kept as they are.  Statements are quoted as psql echoed them (at most 5 per test).',
    '',
  );
  for my $m (sort { $a <=> $b } keys %$sections) {
    my @body = @{$sections->{$m}};
    pop @body while @body && $body[-1] =~ /^\s*$/;
    push @out, "# PostgreSQL $m", @body, '';
  }
  write_lines($path, \@out);
}

sub enforce_mode {
  my ($plain, $guarded, $catalog_path, $list, $major, $write, $meta) = @_;
  my $catalog = read_catalog($catalog_path);
  my ($found, $differs, $ntests) = enforce_findings($plain, $guarded, $catalog);
  my %run;
  for my $r (keys %$found) { $run{"$r\t$_"} = 1 for keys %{$found->{$r}}; }
  my ($listed, $prose) = read_list($list, $major);
  for my $r (sort keys %$found) {
    my $n = 0;
    $n += $found->{$r}{$_}{count} for keys %{$found->{$r}};
    printf "rule: %s %d tests%s\n", $r, scalar keys %{$found->{$r}},
      $r eq 'knock-on' ? '' : ", $n statements";
  }
  if ($write) {
    write_list($list, $major, $found, $differs, $ntests, $catalog, $prose, $meta);
    print "wrote $list\n";
  }
  my @new = grep { !$listed->{$_} } sort keys %run;
  my @stale = grep { !$run{$_} } sort keys %$listed;
  unless ($write) {
    print "new: ", $_ =~ s/\t/ /r, "\n" for @new;
    print "stale: ", $_ =~ s/\t/ /r, "\n" for @stale;
  }
  printf "enforce: tests=%d differing=%d pairs=%d listed=%d\n", $ntests, scalar @$differs,
    scalar keys %run, scalar keys %$listed;
  return 0 if $write;
  return (@new || @stale) ? 1 : 0;
}

my $cmd = shift @ARGV // '';
if ($cmd eq 'warn' && @ARGV == 3) {
  exit warn_mode(@ARGV);
} elsif ($cmd eq 'enforce' && (@ARGV == 6 || @ARGV == 7) && $ARGV[4] =~ /^\d+$/) {
  my ($plain, $guarded, $catalog, $list, $major, $meta, $flag) = @ARGV;
  exit enforce_mode($plain, $guarded, $catalog, $list, $major, ($flag // '') eq '--write', $meta);
} else {
  print STDERR "usage: compare.pl warn PLAIN WARN FILTERED_DIR\n"
    . "       compare.pl enforce PLAIN ENFORCE RULE_CATALOG LIST_FILE MAJOR META [--write]\n";
  exit 2;
}
