"""Numbered schema migrations; `PRAGMA user_version` records how many are applied.

Never edit a migration that has shipped: add the next one. Times are Unix seconds (REAL, UTC).
People are known by their Telegram id only: no names, no usernames, no phone numbers.
"""

MIGRATIONS: list[str] = [
    # 1: the foundation.
    """
    CREATE TABLE sectors (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        chat_id     INTEGER UNIQUE,
        invite_link TEXT,
        linked_at   REAL,
        active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
    );

    CREATE TABLE people (
        user_id     INTEGER PRIMARY KEY,
        language    TEXT NOT NULL DEFAULT 'fr',
        sector_id   INTEGER REFERENCES sectors(id) ON DELETE SET NULL,
        street      TEXT,
        status      TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'refused', 'enrolled', 'left', 'excluded')),
        blocked_bot INTEGER NOT NULL DEFAULT 0 CHECK (blocked_bot IN (0, 1)),
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL
    );

    CREATE TABLE referents (
        user_id      INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        sector_id    INTEGER NOT NULL REFERENCES sectors(id) ON DELETE CASCADE,
        appointed_by INTEGER,
        appointed_at REAL NOT NULL,
        PRIMARY KEY (user_id, sector_id)
    );

    CREATE TABLE charter_acceptances (
        user_id     INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        version     INTEGER NOT NULL,
        language    TEXT NOT NULL,
        accepted_at REAL NOT NULL,
        PRIMARY KEY (user_id, version)
    );

    CREATE TABLE reports (
        id            INTEGER PRIMARY KEY,
        reporter_id   INTEGER REFERENCES people(user_id) ON DELETE SET NULL,
        sector_id     INTEGER REFERENCES sectors(id) ON DELETE SET NULL,
        category      TEXT NOT NULL,
        occurred      TEXT NOT NULL,
        description   TEXT,
        latitude      REAL,
        longitude     REAL,
        photo_file_id TEXT,
        status        TEXT NOT NULL,
        untriaged     INTEGER NOT NULL DEFAULT 0 CHECK (untriaged IN (0, 1)),
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL,
        purged_at     REAL
    );
    CREATE INDEX reports_by_reporter ON reports(reporter_id, created_at);
    CREATE INDEX reports_by_sector ON reports(sector_id, category, created_at);

    CREATE TABLE report_events (
        id        INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        status    TEXT NOT NULL,
        actor_id  INTEGER,
        note      TEXT,
        at        REAL NOT NULL
    );
    CREATE INDEX report_events_by_report ON report_events(report_id, at);

    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        dedupe_key      TEXT UNIQUE,
        chat_id         INTEGER NOT NULL,
        method          TEXT NOT NULL,
        payload         TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        ref             TEXT,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        message_id      INTEGER,
        last_error      TEXT,
        created_at      REAL NOT NULL,
        finished_at     REAL
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE INDEX outbox_by_ref ON outbox(purpose, ref);

    CREATE TABLE audit_log (
        id       INTEGER PRIMARY KEY,
        at       REAL NOT NULL,
        actor_id INTEGER,
        action   TEXT NOT NULL,
        subject  TEXT,
        details  TEXT
    );
    CREATE INDEX audit_by_actor ON audit_log(actor_id, at);
    """,
    # 2: enrolment: join requests awaiting a decision, referent applications, charter notices.
    """
    CREATE TABLE join_requests (
        id           INTEGER PRIMARY KEY,
        user_id      INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        chat_id      INTEGER NOT NULL,
        sector_id    INTEGER NOT NULL REFERENCES sectors(id) ON DELETE CASCADE,
        status       TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'declined', 'withdrawn')),
        requested_at REAL NOT NULL,
        decided_by   INTEGER,
        decided_at   REAL
    );
    CREATE UNIQUE INDEX join_requests_one_pending
        ON join_requests(user_id, chat_id) WHERE status = 'pending';

    CREATE TABLE referent_applications (
        id          INTEGER PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        sector_id   INTEGER NOT NULL REFERENCES sectors(id) ON DELETE CASCADE,
        motivation  TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'declined')),
        created_at  REAL NOT NULL,
        decided_by  INTEGER,
        decided_at  REAL
    );
    CREATE UNIQUE INDEX referent_applications_one_pending
        ON referent_applications(user_id) WHERE status = 'pending';

    ALTER TABLE people ADD COLUMN charter_notice_version INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: reports: what the screen noticed, triage, grouping of similar reports.
    """
    ALTER TABLE reports ADD COLUMN screen_flags TEXT;
    ALTER TABLE reports ADD COLUMN plate TEXT;
    ALTER TABLE reports ADD COLUMN triaged_by INTEGER;
    ALTER TABLE reports ADD COLUMN similar_to INTEGER REFERENCES reports(id);
    ALTER TABLE reports ADD COLUMN triage_due_at REAL;
    CREATE INDEX reports_triage_due ON reports(status, triage_due_at);
    """,
    # 4: what goes down to the sectors: notices, alerts, polls, prevention tips.
    """
    CREATE TABLE broadcasts (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind IN ('notice', 'alert', 'poll')),
        author_id      INTEGER,
        body           TEXT NOT NULL,
        photo_file_id  TEXT,
        options        TEXT,
        sector_ids     TEXT NOT NULL,
        to_residents   INTEGER NOT NULL DEFAULT 0 CHECK (to_residents IN (0, 1)),
        referents_only INTEGER NOT NULL DEFAULT 0 CHECK (referents_only IN (0, 1)),
        pin            INTEGER NOT NULL DEFAULT 0 CHECK (pin IN (0, 1)),
        silent         INTEGER NOT NULL DEFAULT 0 CHECK (silent IN (0, 1)),
        status         TEXT NOT NULL DEFAULT 'sending'
                       CHECK (status IN ('sending', 'sent', 'closed')),
        recipients     INTEGER NOT NULL DEFAULT 0,
        delivered      INTEGER NOT NULL DEFAULT 0,
        failed         INTEGER NOT NULL DEFAULT 0,
        progress_chat_id   INTEGER,
        progress_outbox_id INTEGER,
        created_at     REAL NOT NULL,
        finished_at    REAL
    );
    CREATE INDEX broadcasts_by_kind ON broadcasts(kind, created_at);

    CREATE TABLE alert_relays (
        broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
        sector_id    INTEGER NOT NULL REFERENCES sectors(id) ON DELETE CASCADE,
        referent_id  INTEGER,
        relayed_at   REAL NOT NULL,
        PRIMARY KEY (broadcast_id, sector_id)
    );

    CREATE TABLE poll_copies (
        poll_id      TEXT PRIMARY KEY,
        broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        counts       TEXT NOT NULL,
        closed       INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1))
    );
    CREATE INDEX poll_copies_by_broadcast ON poll_copies(broadcast_id);

    CREATE TABLE tips (
        id         TEXT PRIMARY KEY,
        topic      TEXT NOT NULL,
        text_fr    TEXT,
        text_en    TEXT,
        retired    INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
        updated_by INTEGER,
        updated_at REAL NOT NULL
    );

    CREATE TABLE tip_posts (
        sector_id INTEGER NOT NULL REFERENCES sectors(id) ON DELETE CASCADE,
        tip_id    TEXT NOT NULL,
        posted_at REAL NOT NULL
    );
    CREATE INDEX tip_posts_by_sector ON tip_posts(sector_id, posted_at);

    CREATE TABLE schedule_runs (
        job    TEXT NOT NULL,
        slot   REAL NOT NULL,
        ran_at REAL NOT NULL,
        PRIMARY KEY (job, slot)
    );

    ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_due_by_priority ON outbox(status, priority, next_attempt_at);
    """,
    # 5: crash-proofing: the inbox of fetched updates, conversations that survive a restart,
    # sends whose fate is uncertain, and report drafts submitted at most once.
    """
    CREATE TABLE inbox (
        update_id   INTEGER PRIMARY KEY,
        payload     TEXT,
        user_id     INTEGER,
        attempts    INTEGER NOT NULL DEFAULT 0,
        received_at REAL NOT NULL,
        done_at     REAL
    );
    CREATE INDEX inbox_pending ON inbox(update_id) WHERE done_at IS NULL;
    CREATE INDEX inbox_by_user ON inbox(user_id) WHERE user_id IS NOT NULL;

    CREATE TABLE conversation_states (
        name       TEXT NOT NULL,
        key        TEXT NOT NULL,
        state      TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (name, key)
    );

    CREATE TABLE conversation_data (
        user_id    INTEGER PRIMARY KEY,
        data       TEXT NOT NULL,
        updated_at REAL NOT NULL
    );

    ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0
        CHECK (uncertain IN (0, 1));

    ALTER TABLE reports ADD COLUMN draft_key TEXT;
    CREATE UNIQUE INDEX reports_by_draft_key ON reports(draft_key) WHERE draft_key IS NOT NULL;
    """,
    # Issue 12: what the bot keeps about itself (the last start's checklist digest), and
    # reports kept until a liaison or an official exists to receive them.
    """
    CREATE TABLE meta (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at REAL NOT NULL
    );

    ALTER TABLE reports ADD COLUMN pending_relay INTEGER NOT NULL DEFAULT 0
        CHECK (pending_relay IN (0, 1));
    """,
    # 7: charter versions: the digest of each charter text the commune has shown (shipped or
    # its own), so a changed text gets a new version number and asks for re-acceptance.
    """
    CREATE TABLE charter_versions (
        version       INTEGER PRIMARY KEY,
        digest        TEXT NOT NULL UNIQUE,
        source        TEXT NOT NULL,
        registered_at REAL NOT NULL
    );
    """,
    # Issue 14: moderation in the sector groups. One row per action the bot took on a
    # message (removed, media held, forward held); the removed text is kept only until the
    # referents decide (or moderation.keep_hours), the author's copy until they send it to
    # the gendarmerie (or the same delay). Strikes expire after moderation.strike_days.
    # A missing right (delete, restrict) is told once per group and right.
    """
    CREATE TABLE moderation_actions (
        id          INTEGER PRIMARY KEY,
        sector_id   INTEGER REFERENCES sectors(id) ON DELETE SET NULL,
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER,
        author_id   INTEGER,
        kind        TEXT NOT NULL CHECK (kind IN ('removed', 'media', 'forwarded')),
        findings    TEXT NOT NULL DEFAULT '',
        text        TEXT,
        author_text TEXT,
        media       TEXT,
        status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                    ('pending', 'confirmed', 'restored', 'published', 'declined', 'expired')),
        contested   INTEGER NOT NULL DEFAULT 0 CHECK (contested IN (0, 1)),
        strike_id   INTEGER,
        notice_failed INTEGER NOT NULL DEFAULT 0 CHECK (notice_failed IN (0, 1)),
        created_at  REAL NOT NULL,
        decided_at  REAL,
        decided_by  INTEGER
    );
    CREATE UNIQUE INDEX moderation_by_message ON moderation_actions(chat_id, message_id)
        WHERE message_id IS NOT NULL;
    CREATE INDEX moderation_by_sector ON moderation_actions(sector_id, created_at);

    CREATE TABLE strikes (
        id         INTEGER PRIMARY KEY,
        user_id    INTEGER NOT NULL,
        sector_id  INTEGER REFERENCES sectors(id) ON DELETE SET NULL,
        action_id  INTEGER REFERENCES moderation_actions(id) ON DELETE SET NULL,
        step       INTEGER NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        cancelled  INTEGER NOT NULL DEFAULT 0 CHECK (cancelled IN (0, 1))
    );
    CREATE INDEX strikes_by_user ON strikes(user_id, expires_at);

    CREATE TABLE moderation_rights_told (
        chat_id  INTEGER NOT NULL,
        missing  TEXT NOT NULL,
        told_at  REAL NOT NULL,
        PRIMARY KEY (chat_id, missing)
    );
    """,
    # Who belongs to the liaison group, learnt from the group itself (issue 13): its
    # chat_member updates, people acting in it, and the bot's background getChatMember.
    """
    CREATE TABLE liaison_members (
        chat_id    INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        member     INTEGER NOT NULL CHECK (member IN (0, 1)),
        source     TEXT NOT NULL CHECK (source IN ('chat_member', 'acted', 'checked')),
        checked_at REAL NOT NULL,
        PRIMARY KEY (user_id, chat_id)  -- also what erasure looks up
    );
    CREATE INDEX liaison_members_by_age ON liaison_members(chat_id, member, checked_at);
    """,
    # Retention and figures (issue 13): the purge selects through a partial index (only the
    # rows still to purge); the audit purge ranges over `at`. The figures read one covering
    # index over created_at: when a report first reached the gendarmerie and first got the
    # liaison's answer are kept on the report by triggers on report_events (whatever path
    # writes the event), so no figure looks an event up per report.
    """
    CREATE INDEX reports_to_purge ON reports(created_at) WHERE purged_at IS NULL;
    CREATE INDEX audit_by_at ON audit_log(at);
    ALTER TABLE reports ADD COLUMN relayed_at REAL;
    ALTER TABLE reports ADD COLUMN answered_at REAL;
    UPDATE reports SET
        relayed_at = (SELECT MIN(e.at) FROM report_events e
                      WHERE e.report_id = reports.id AND e.status = 'relayed'),
        answered_at = (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = reports.id
                       AND e.status IN ('received', 'patrol_informed', 'closed', 'unfounded'));
    CREATE TRIGGER report_events_relayed AFTER INSERT ON report_events
        WHEN new.status = 'relayed'
    BEGIN
        UPDATE reports SET relayed_at = MIN(COALESCE(relayed_at, new.at), new.at)
            WHERE id = new.report_id;
    END;
    CREATE TRIGGER report_events_answered AFTER INSERT ON report_events
        WHEN new.status IN ('received', 'patrol_informed', 'closed', 'unfounded')
    BEGIN
        UPDATE reports SET answered_at = MIN(COALESCE(answered_at, new.at), new.at)
            WHERE id = new.report_id;
    END;
    CREATE TRIGGER report_events_moved AFTER UPDATE OF at, status ON report_events
    BEGIN
        UPDATE reports SET
            relayed_at = (SELECT MIN(e.at) FROM report_events e
                          WHERE e.report_id = new.report_id AND e.status = 'relayed'),
            answered_at = (SELECT MIN(e.at) FROM report_events e
                           WHERE e.report_id = new.report_id AND e.status IN
                           ('received', 'patrol_informed', 'closed', 'unfounded'))
            WHERE id = new.report_id;
    END;
    CREATE INDEX reports_by_created ON reports(created_at, id, sector_id, category, occurred,
                                               status, untriaged, similar_to, relayed_at,
                                               answered_at);
    """,
    # The staff's desk (issue 15, /membres and /exclus): since when a member is in their
    # sector, and which sector an excluded person was excluded from (their referents' list).
    """
    ALTER TABLE people ADD COLUMN enrolled_at REAL;
    ALTER TABLE people ADD COLUMN excluded_from INTEGER REFERENCES sectors(id)
        ON DELETE SET NULL;
    UPDATE people SET enrolled_at = updated_at WHERE status = 'enrolled';
    """,
    # Live administration (issue 15): the staff and the liaison chat live in the database,
    # seeded from config.toml on the first start and changed in the bot afterwards; each
    # sector's area (a GeoJSON geometry) and its streets, for enrolment by place or street.
    # `key` is the street's name folded for matching (accents, case, "av." → "avenue").
    """
    CREATE TABLE staff (
        user_id      INTEGER NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('official', 'admin')),
        appointed_by INTEGER,
        appointed_at REAL NOT NULL,
        PRIMARY KEY (user_id, role)
    );
    CREATE TABLE commune_state (
        key   TEXT PRIMARY KEY,
        value TEXT
    );
    ALTER TABLE sectors ADD COLUMN area TEXT;
    CREATE TABLE sector_streets (
        sector_id INTEGER NOT NULL REFERENCES sectors(id) ON DELETE CASCADE,
        street    TEXT NOT NULL,
        key       TEXT NOT NULL UNIQUE
    );
    CREATE INDEX sector_streets_by_sector ON sector_streets(sector_id);
    """,
]
