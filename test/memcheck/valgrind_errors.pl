#!/usr/bin/perl
# Reads the per-process logs of a server run under valgrind (--log-file=DIR/%p.log,
# --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END) and the server's log, and prints:
#   - each distinct error once (the same stack in many backends is one error): how many times
#     it was seen, in which tests, and its report's first 40 lines;
#   - "test: NAME N"    for every test whose backends had N > 0 errors;
#   - "other: N"        errors in processes that served no test (postmaster, checkpointer,
#                       autovacuum, pg_regress's own connections);
#   - each process killed by a signal (a failed Assert() aborts), with the stack valgrind
#     printed for it: for information, the crash itself fails the run from the server log;
#   - "summary: ..."    totals, and the processes whose log has no ERROR SUMMARY (killed
#                       before valgrind could finish it; their errors may be missing).
# A test's backends are known from the server log's connection lines (log_connections = on,
# log_line_prefix with %p): pg_regress sets application_name to pg_regress/<test>,
# pg_isolation_regress to isolation/<spec>.
# Usage: valgrind_errors.pl LOGDIR SERVERLOG
use strict;
use warnings;

my ($dir, $server_log) = @ARGV;
die "usage: $0 LOGDIR SERVERLOG\n" unless defined $server_log;

my %test_of;    # pid -> test
open(my $sl, '<', $server_log) or die "$server_log: $!\n";
while (<$sl>) {
	next unless /\[(\d+)\].*connection authorized: .*application_name=(\S+)/;
	my ($pid, $app) = ($1, $2);
	if ($app =~ m{^pg_regress/(.+)$} or $app =~ m{^isolation/([^/]+)}) {
		$test_of{$pid} = $1;
	}
}
close $sl;

my (%count, %first, %tests, %per_test);
my ($errors, $summary_errors, $other, $logs) = (0, 0, 0, 0);
my (@unfinished, @killed);
opendir(my $dh, $dir) or die "$dir: $!\n";
for my $file (sort grep { /^\d+\.log$/ } readdir $dh) {
	my ($pid) = $file =~ /^(\d+)/;
	$logs++;
	open(my $fh, '<', "$dir/$file") or die "$dir/$file: $!\n";
	my ($in, @report, $has_summary, $signal);
	while (my $line = <$fh>) {
		$line =~ s/^==\d+== ?//;
		if ($line =~ /^Process terminating with default action of signal/) {
			$signal = $line;
			next;
		}
		if (defined $signal) {
			if ($line =~ /^\s+(at|by) /) { $signal .= $line; next; }
			my $test = $test_of{$pid};
			push @killed, "---- pid $pid" . (defined $test ? " (test $test)" : '') . ": $signal";
			undef $signal;
		}
		if ($line =~ /^ERROR SUMMARY: (\d+) errors/) {
			$summary_errors += $1;
			$has_summary = 1;
		}
		if ($line =~ /^VALGRINDERROR-BEGIN/) { $in = 1; @report = (); next; }
		if ($line =~ /^VALGRINDERROR-END/) {
			$in = 0;
			$errors++;
			# The same error in another process: same text once addresses and sizes that vary
			# from run to run are taken out.
			my $key = join('', @report);
			$key =~ s/0x[0-9A-Fa-f]+/0x?/g;
			$key =~ s/\b\d+ bytes\b/N bytes/g;
			my $test = $test_of{$pid};
			if (defined $test) { $per_test{$test}++; } else { $other++; }
			$count{$key}++;
			$first{$key} //= "pid $pid" . (defined $test ? " (test $test)" : '') . "\n" .
				join('', @report[0 .. ($#report < 39 ? $#report : 39)]);
			$tests{$key}{ defined $test ? $test : '(no test)' } = 1;
			next;
		}
		push @report, $line if $in;
	}
	close $fh;
	push @unfinished, $pid unless $has_summary;
}
closedir $dh;

my $n = 0;
for my $key (sort { $count{$b} <=> $count{$a} } keys %count) {
	$n++;
	printf "---- valgrind error %d of %d: seen %d time(s), in %s; first in %s", $n,
		scalar(keys %count), $count{$key}, join(', ', sort keys %{ $tests{$key} }), $first{$key};
}
print @killed;
print "test: $_ $per_test{$_}\n" for sort keys %per_test;
print "other: $other\n";
# valgrind reports an error once per process and stack, and counts each occurrence in its
# ERROR SUMMARY line: the two totals differ when a stack recurs in one process.
printf "summary: %d valgrind error reports (%d distinct) in %d process logs; occurrences in their ERROR SUMMARY lines: %d%s\n",
	$errors, scalar(keys %count), $logs, $summary_errors,
	@unfinished ? "; no ERROR SUMMARY (process killed?) in the logs of pids @unfinished" : '';
