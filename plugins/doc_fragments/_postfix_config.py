# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
    # Options shared by postfix_config and postfix_instance; the argument spec is
    # plugins/module_utils/_postfix_args.py.

    DOCUMENTATION = r"""
options:
  main_cf:
    description:
      - C(main.cf) parameters as a dictionary of names and values.
      - A value may be a string, a number, a boolean (written C(yes)/C(no)) or a list (written as
        C(a, b, c); a long list is written one item per continuation line).
      - A line break (LF, CR) or NUL anywhere in a value is refused before anything changes, with a
        message that starts with C(main_cf.NAME), because the value Postfix would read is not the one
        given. Give a list for a long value.
      - The value V(null) (C(~) in YAML, or a key without a value) B(removes) the parameter. Use an
        empty string for an empty value.
      - Values are compared after whitespace normalisation, so a second run with the same values
        reports no change even when a person re-wrapped a line.
      - A changed parameter is rewritten where its last definition is; a new one is appended to the
        end of the file. Comments, blank lines and the parameters you do not name keep every byte.
    type: dict
  main_cf_mode:
    description:
      - V(merge) changes only the parameters named in O(main_cf).
      - V(exclusive) also removes every parameter that O(main_cf) does not name (comments stay).
        Parameters that tie an instance to its queue and to postmulti(1) are never removed unless
        named - C(queue_directory), C(data_directory) and the C(multi_instance_*) parameters.
    type: str
    choices: [merge, exclusive]
    default: merge
  master_cf:
    description:
      - C(master.cf) services. Each item is the B(complete) entry of one service, identified by
        O(master_cf[].service) and O(master_cf[].type); fields you leave out are written as C(-)
        (the Postfix default), and options or arguments you leave out are not kept.
      - An entry is rewritten only when what Postfix would read differs (the order of distinct
        C(-o) options does not count); otherwise its lines, including multi-line layout and
        comments, are kept.
    type: list
    elements: dict
    suboptions:
      service:
        description:
          - Service name (for example C(smtp), C(submission), C(127.0.2.1:smtp), C(relay)).
        type: str
        required: true
      type:
        description:
          - Service type.
        type: str
        required: true
        choices: [inet, unix, unix-dgram, fifo, pass]
      private:
        description:
          - Private service. V(true)/V(y), V(false)/V(n), or C(-) for the default.
        type: raw
      unpriv:
        description:
          - Unprivileged service. V(true)/V(y), V(false)/V(n), or C(-) for the default.
        type: raw
      chroot:
        description:
          - Chrooted service. V(true)/V(y), V(false)/V(n), or C(-) for the default.
          - Debian's C(master.cf) chroots most services; M(mailrelay.smtp.postfix_instance) copies
            what a chrooted service needs (C(resolv.conf), C(hosts), NSS libraries) into the queue
            directory before it starts an instance.
        type: raw
      wakeup:
        description:
          - Wake-up time in seconds, optionally followed by C(?), or C(-).
        type: raw
      maxproc:
        description:
          - Process limit, or C(-).
        type: raw
      command:
        description:
          - Daemon name, relative to C(daemon_directory) (for example C(smtpd), C(pipe)), or an
            absolute path. Required when O(master_cf[].state=present); validation checks that it
            exists.
        type: str
      args:
        description:
          - Further command arguments, as a list of strings or one string split at whitespace
            (text inside C({ }) stays together). An argument that contains whitespace is
            written as C({ argument }).
          - Example for C(pipe) - C(["flags=DRXhu", "user=vmail", "argv=/usr/bin/maildrop", "-d", "${recipient}"]).
        type: raw
      options:
        description:
          - C(-o name=value) overrides, as a dictionary. Values are rendered like O(main_cf)
            values; a value with whitespace is written in the Postfix 3 form
            C(-o { name = value }).
        type: dict
      state:
        description:
          - V(absent) removes the service.
        type: str
        choices: [present, absent]
        default: present
  master_cf_mode:
    description:
      - V(merge) changes only the services named in O(master_cf).
      - V(exclusive) removes every service that O(master_cf) does not declare present. This
        includes the stock services (C(pickup), C(cleanup), C(qmgr)...), which must then be
        declared too.
      - V(listeners) owns the network listeners - every C(inet) service that O(master_cf) does not declare
        present is removed, so a listener moved to another port stops listening - and merges the other
        services like V(merge).
    type: str
    choices: [merge, exclusive, listeners]
    default: merge
  maps:
    description:
      - Lookup tables whose content is given as data.
      - A table file is rewritten only when its content differs; an indexed table (C(hash),
        C(btree), C(lmdb), C(cdb), C(dbm), C(sdbm)) is rebuilt with postmap(1) only when its source
        changed or its database file is missing or older than the source.
      - The new source and database are built in a private staging directory, get their owner and
        mode there, and are then renamed into place, so a secret database is never readable by
        others, not even for a moment.
      - Indexed tables are picked up by the running Postfix daemons by themselves; a change of a
        C(texthash), C(regexp), C(pcre) or C(cidr) table sets RV(reload_needed).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - File name of the table source, relative to the configuration directory (for
            example C(transport) or C(maps/virtual)), or an absolute path.
          - Reference it in O(main_cf) as C(TYPE:/full/path), for example
            C(hash:/etc/postfix/transport).
        type: str
        required: true
      type:
        description:
          - Table type. C(inline:), C(static:) and similar tables are not files; write them
            directly into an O(main_cf) value.
        type: str
        default: hash
        choices: [btree, cdb, cidr, dbm, hash, lmdb, pcre, regexp, sdbm, texthash]
      entries:
        description:
          - The table content, required when O(maps[].state=present).
          - A dictionary of keys and values, or a list of C([key, value]) pairs (or
            C({key, value}) dictionaries). Use the list form for C(regexp), C(pcre) and C(cidr)
            tables, where the first match wins and the order matters.
          - A plain string in the list is written as a line of its own (for C(if)/C(endif) blocks
            in C(regexp) and C(pcre) tables).
          - Or the table's text itself, one C(key value) line per entry; cheapest for tables with
            thousands of entries (every line is written as given).
          - Values are rendered like O(main_cf) values (a list becomes C(a, b)).
        type: raw
      secret:
        description:
          - The table holds secrets (for example C(sasl_passwd)). Its source and database get
            mode C(0600) unless O(maps[].mode) says otherwise (group and others may never read
            it), its values are masked as C(********) in the diff and in every output, and they
            are added to the module's no-log values, so they do not appear in C(-v) output
            either. Keys stay visible.
        type: bool
        default: false
      mode:
        description:
          - Mode of the source and database files, as an octal string (C("0640")).
          - Defaults to C(0600) for a secret table and C(0644) otherwise.
        type: raw
      owner:
        description:
          - Owner of the source and database files.
          - Defaults to C(root).
        type: str
      group:
        description:
          - Group of the source and database files.
          - Defaults to C(root).
        type: str
      state:
        description:
          - V(absent) removes the source and its database files. Validation fails while
            a parameter still refers to the table.
        type: str
        choices: [present, absent]
        default: present
  validate:
    description:
      - Validate the complete new configuration in a staging directory before it replaces the
        live files (see the module description). Switch it off only to recover from a state the
        checks cannot handle.
      - When validation fails, the live files and the running service are unchanged and the
        message names every problem and the parameter or option it concerns.
    type: bool
    default: true
  allow_unused_parameters:
    description:
      - By default validation fails when C(postconf -n) reports an "unused parameter", which is
        almost always a misspelt parameter name that Postfix would silently ignore.
      - Set to V(true) to accept such parameters (they are then reported as warnings), for
        example for parameters of a newer Postfix release.
    type: bool
    default: false
"""
