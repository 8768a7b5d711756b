/* crm-kit's additions to sao, served from sao's custom.js hook: its name
 * and the customer's in the header, and the pipeline board widget.
 *
 * Everything here reads and writes through the user's own session and the
 * server's RPC, so record rules, field access and the workflow's checks
 * are the ones of sao's forms; the words come from the server, translated
 * (crm_kit_desk's messages). */
(function() {
    'use strict';

    var SOLUTION = 'crm-kit';
    Sao.config.title = SOLUTION;

    function session() {
        return Sao.Session.current_session;
    }

    function rpc(method, params, process_exception=true) {
        return Sao.rpc({
            'method': method,
            'params': params.concat([{}]),
        }, session(), true, process_exception);
    }

    /* The header and the browser's title: crm-kit and the company, with
     * its logo when set. */
    var get_preferences = Sao.get_preferences;
    Sao.get_preferences = function() {
        return get_preferences.apply(this, arguments).then(
            function(preferences) {
                return show_company(preferences).then(
                    () => preferences, () => preferences);
            });
    };

    function identity(database) {
        return jQuery.getJSON(
            '/' + encodeURIComponent(database) + '/crm/identity');
    }

    function show_company(preferences) {
        jQuery('#title').siblings('.crm-logo').remove();
        return identity(session().database).then(function(company) {
            if (!company.name) {
                return;
            }
            Sao.config.title = SOLUTION + ' · ' + company.name;
            Sao.set_title();
            if (company.logo) {
                jQuery('<img/>', {
                    'class': 'crm-logo',
                    'src': company.logo,
                    'alt': '',
                }).insertBefore('#title');
            }
        });
    }

    /* The login dialog says what it opens: crm-kit and the company of the
     * database (crm_kit's public identity route). */
    function brand_login(dialog) {
        if (dialog.find('.crm-login-brand').length) {
            return;
        }
        var brand = jQuery('<div/>', {'class': 'crm-login-brand'})
            .append(jQuery('<div/>', {'class': 'crm-login-solution'})
                .text(SOLUTION));
        dialog.find('.modal-body').prepend(brand);
        var database = dialog.find('[name="database"]');
        var shown = null;
        var show = function(evt) {
            // sao has a list and an entry: the one it filled in.
            var field = database.filter(function() {
                return jQuery(this).val();
            }).first();
            var name = field.val();
            if (!name || name === shown) {
                return;
            }
            // A server of several databases: the one the user chooses,
            // not the list's first (asking for another database's company
            // would load that database on the server).
            if (field.is('select') && !evt) {
                return;
            }
            shown = name;
            identity(name).done(function(identity) {
                    brand.find('.crm-login-company, img').remove();
                    if (identity.logo) {
                        brand.prepend(jQuery('<img/>', {
                            'src': identity.logo,
                            'alt': identity.name,
                        }));
                    }
                    brand.append(jQuery('<div/>', {
                        'class': 'crm-login-company',
                    }).text(identity.name || ''));
                });
        };
        database.on('change input', show);
        // sao fills the database in once it has the list of them.
        var tries = 0;
        var poll = setInterval(function() {
            show();
            if (shown || (++tries > 20) || !jQuery.contains(document, dialog[0])) {
                clearInterval(poll);
            }
        }, 250);
    }

    // Bootstrap tells when a dialog shows (watching every change of the
    // page for it made the browser lay the page out again at each one).
    jQuery(document).on('shown.bs.modal', '.login-dialog', function() {
        brand_login(jQuery(this));
    });

    /* The pipeline board: one column per stage, deals as cards moved by
     * dragging (or "Move to…" on a phone) and saved as a write of the
     * deal's stage. */
    var PHONE = 768;

    Sao.View.Form.PipelineBoard = Sao.class_(Sao.View.Form.Widget, {
        'class_': 'form-pipeline-board',
        expand: true,
        init: function(view, attributes) {
            Sao.View.Form.PipelineBoard._super.init.call(
                this, view, attributes);
            this.el = jQuery('<div/>', {'class': this.class_ + ' crm-board'});
            this.filters = {'scope': 'all'};
            this.pipeline = null;
            this.data = null;
            this.current = 0;  // the column shown on a phone
            this.collapsed = {};
            this.loading = null;
        },
        display: function() {
            Sao.View.Form.PipelineBoard._super.display.call(this);
            var record = this.record;
            var pipeline = record ? record.field_get('pipeline') : null;
            if (!pipeline) {
                this.el.empty();
                this.pipeline = null;
                return;
            }
            // sao displays the form again on each change of it: the board
            // is read again only for another pipeline.
            if (pipeline !== this.pipeline) {
                this.pipeline = pipeline;
                this.load();
            }
        },
        load: function() {
            var pipeline = this.pipeline;
            var filters = jQuery.extend({}, this.filters);
            var prm = rpc('model.crm.pipeline.board', [[pipeline], filters]);
            this.loading = prm;
            this.el.addClass('crm-board-loading');
            return prm.then((data) => {
                if (this.loading !== prm) {
                    return;  // a later load answers instead
                }
                this.data = data;
                this.render();
            }).always(() => {
                if (this.loading === prm) {
                    this.el.removeClass('crm-board-loading');
                }
            });
        },
        get phone() {
            return window.innerWidth < PHONE;
        },
        render: function() {
            var data = this.data;
            var labels = data.labels;
            var focused = this.el.find('.crm-board-search').is(':focus');
            this.el.empty();
            this.el.append(this.render_filters(data, labels));
            if (focused) {
                this.el.find('.crm-board-search').focus();
            }
            var columns = data.columns;
            if (this.current >= columns.length) {
                this.current = 0;
            }
            if (this.phone) {
                this.el.append(this.render_tabs(columns));
            }
            var container = jQuery('<div/>', {
                'class': 'crm-board-columns',
            }).appendTo(this.el);
            columns.forEach((column, i) => {
                var el = this.render_column(column, labels);
                if (this.phone && i !== this.current) {
                    el.addClass('crm-board-column-hidden');
                } else {
                    this.fill(el);
                }
                container.append(el);
            });
            this.swipe(container, columns);
        },
        render_filters: function(data, labels) {
            var bar = jQuery('<div/>', {'class': 'crm-board-filters'});
            var scopes = jQuery('<div/>', {
                'class': 'btn-group btn-group-sm',
                'role': 'group',
            }).appendTo(bar);
            ['mine', 'team', 'all'].forEach((scope) => {
                jQuery('<button/>', {
                    'type': 'button',
                    'class': 'btn btn-default' + (
                        this.filters.scope === scope ? ' active' : ''),
                    'data-scope': scope,
                    'aria-pressed': this.filters.scope === scope,
                }).text(labels[scope]).click(() => {
                    this.filters.scope = scope;
                    this.load();
                }).appendTo(scopes);
            });
            var select = (name, empty, options) => {
                var el = jQuery('<select/>', {
                    'class': 'form-control input-sm',
                    'name': 'crm-board-' + name,
                    'aria-label': labels[name],
                }).append(jQuery('<option/>', {'value': ''}).text(empty));
                for (const [id, text] of options) {
                    el.append(jQuery('<option/>', {
                        'value': id,
                        'selected': this.filters[name] === id,
                    }).text(text));
                }
                el.change(() => {
                    var value = el.val();
                    this.filters[name] = value ? Number(value) : null;
                    this.load();
                });
                return el;
            };
            bar.append(select('owner', labels.everyone, data.owners));
            bar.append(select('channel', labels.any_channel, data.channels));
            var search = jQuery('<input/>', {
                'type': 'search',
                'class': 'form-control input-sm crm-board-search',
                'placeholder': labels.search,
                'aria-label': labels.search,
                'value': this.filters.text || '',
            }).appendTo(bar);
            var timer = null;
            search.on('input', () => {
                clearTimeout(timer);
                timer = setTimeout(() => {
                    this.filters.text = search.val() || null;
                    this.load();
                }, 400);
            });
            var closing = jQuery('<input/>', {
                'type': 'checkbox',
                'name': 'crm-board-closing',
                'checked': Boolean(this.filters.closing_this_month),
            }).change(() => {
                this.filters.closing_this_month = closing.prop('checked');
                this.load();
            });
            bar.append(jQuery('<label/>', {
                'class': 'crm-board-closing',
            }).append(closing).append(' ' + labels.closing_this_month));
            jQuery('<button/>', {
                'type': 'button',
                'class': 'btn btn-default btn-sm crm-board-refresh',
                'title': labels.refresh,
                'aria-label': labels.refresh,
            }).append(Sao.common.ICONFACTORY.get_icon_img('tryton-refresh'))
                .click(() => this.load()).appendTo(bar);
            return bar;
        },
        render_tabs: function(columns) {
            var tabs = jQuery('<ul/>', {
                'class': 'nav nav-pills crm-board-tabs',
                'role': 'tablist',
            });
            columns.forEach((column, i) => {
                jQuery('<li/>', {
                    'role': 'presentation',
                    'class': i === this.current ? 'active' : '',
                }).append(jQuery('<a/>', {
                    'href': '#',
                    'role': 'tab',
                    'data-stage': column.id,
                }).text(column.name + ' (' + column.count + ')').click(
                    (evt) => {
                        evt.preventDefault();
                        this.show_column(i);
                    })).appendTo(tabs);
            });
            return tabs;
        },
        show_column: function(index) {
            var columns = this.el.find('.crm-board-column');
            if (index < 0 || index >= columns.length) {
                return;
            }
            this.current = index;
            columns.addClass('crm-board-column-hidden');
            columns.eq(index).removeClass('crm-board-column-hidden');
            this.fill(columns.eq(index));
            var tabs = this.el.find('.crm-board-tabs > li');
            tabs.removeClass('active');
            var tab = tabs.eq(index).addClass('active');
            if (tab.length) {
                tab[0].scrollIntoView({'block': 'nearest', 'inline': 'center'});
            }
        },
        fill: function(el) {
            // A column the server sent folded has its figures but not its
            // cards: they are read when it shows.
            var more = el.data('more');
            if (more) {
                more();
            }
        },
        swipe: function(container, columns) {
            var start = null;
            container.on('touchstart', (evt) => {
                var touch = evt.originalEvent.touches[0];
                start = [touch.clientX, touch.clientY];
            });
            container.on('touchend', (evt) => {
                if (!start || !this.phone) {
                    return;
                }
                var touch = evt.originalEvent.changedTouches[0];
                var dx = touch.clientX - start[0];
                var dy = touch.clientY - start[1];
                start = null;
                if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) {
                    this.show_column(this.current + (dx < 0 ? 1 : -1));
                }
            });
        },
        render_column: function(column, labels) {
            var collapsed = this.collapsed[column.id];
            if (collapsed === undefined) {
                // Won and lost deals are history: folded until asked.
                collapsed = column.folded;
            }
            if (this.phone) {
                collapsed = false;
            }
            var el = jQuery('<section/>', {
                'class': 'crm-board-column' + (
                    collapsed ? ' crm-board-column-collapsed' : ''),
                'data-stage': column.id,
                'data-state': column.state,
                'aria-label': column.name,
            });
            var header = jQuery('<header/>', {
                'class': 'crm-board-column-header',
            }).appendTo(el);
            if (column.color) {
                header.css('border-top-color', column.color);
            }
            var title = jQuery('<div/>', {'class': 'crm-board-column-title'})
                .appendTo(header);
            jQuery('<span/>', {'class': 'crm-board-column-name'})
                .text(column.name).appendTo(title);
            jQuery('<span/>', {
                'class': 'badge crm-board-column-count',
                'title': labels.deals,
            }).text(column.count).appendTo(title);
            if (!column.closed) {
                jQuery('<button/>', {
                    'type': 'button',
                    'class': 'btn btn-link btn-xs crm-board-new',
                    'title': labels.new_lead,
                    'aria-label': labels.new_lead,
                }).text('+').click(() => this.new_lead(column))
                    .appendTo(title);
            }
            jQuery('<button/>', {
                'type': 'button',
                'class': 'btn btn-link btn-xs crm-board-fold',
                'title': collapsed ? labels.show : labels.hide,
                'aria-expanded': !collapsed,
            }).text(collapsed ? '›' : '‹').click(() => {
                this.collapsed[column.id] = !collapsed;
                this.render();
            }).appendTo(title);
            jQuery('<div/>', {'class': 'crm-board-column-amounts'})
                .append(jQuery('<span/>', {'class': 'crm-board-amount'})
                    .text(column.amount))
                .append(jQuery('<span/>', {
                    'class': 'crm-board-weighted',
                    'title': labels.weighted,
                }).text(labels.weighted + ' ' + column.weighted_amount))
                .appendTo(header);
            var cards = jQuery('<div/>', {
                'class': 'crm-board-cards',
                'data-stage': column.id,
            }).appendTo(el);
            if (collapsed) {
                return el;
            }
            for (const card of column.cards) {
                cards.append(this.render_card(card, labels));
            }
            if (!column.count) {
                jQuery('<p/>', {'class': 'crm-board-empty text-muted'})
                    .text(labels.no_deals).appendTo(cards);
            }
            var loaded = column.cards.length;
            var button = null;
            var more = () => {
                if (loaded >= column.count || cards.data('loading')) {
                    return;
                }
                cards.data('loading', true);
                rpc('model.crm.pipeline.board', [
                    [this.pipeline], jQuery.extend({}, this.filters),
                    column.id, loaded]).then((answer) => {
                    loaded += answer.cards.length;
                    column.cards = column.cards.concat(answer.cards);
                    for (const card of answer.cards) {
                        cards.append(this.render_card(card, labels));
                    }
                    if (!answer.cards.length) {
                        loaded = column.count;
                    }
                    if (button && loaded >= column.count) {
                        button.remove();
                    }
                }).always(() => cards.data('loading', false));
            };
            if (column.folded && !loaded) {
                el.data('more', more);
            }
            cards.on('scroll', () => {
                if (cards[0].scrollTop + cards[0].clientHeight
                    >= cards[0].scrollHeight - 40) {
                    more();
                }
            });
            if (loaded < column.count) {
                button = jQuery('<button/>', {
                    'type': 'button',
                    'class': 'btn btn-link btn-sm crm-board-more',
                }).text(labels.more).click(function() {
                    more();
                }).appendTo(el);
            }
            Sortable.create(cards[0], {
                'group': 'crm-board-' + this.pipeline,
                'draggable': '.crm-card',
                'animation': 150,
                // Pointer events rather than the browser's drag and drop:
                // the same on a mouse, a touch screen and a test's mouse.
                'forceFallback': true,
                'delay': 150,
                'delayOnTouchOnly': true,
                'onEnd': (evt) => {
                    var to = Number(jQuery(evt.to).attr('data-stage'));
                    var from = Number(jQuery(evt.from).attr('data-stage'));
                    if (to !== from) {
                        this.move(Number(jQuery(evt.item).attr('data-id')),
                            to);
                    }
                },
            });
            return el;
        },
        render_card: function(card, labels) {
            var el = jQuery('<article/>', {
                'class': 'crm-card',
                'data-id': card.id,
                'tabindex': 0,
                'title': card.number,
            });
            var top = jQuery('<div/>', {'class': 'crm-card-top'}).appendTo(el);
            jQuery('<span/>', {'class': 'crm-card-customer'})
                .text(card.customer || card.number).appendTo(top);
            if (card.alert) {
                var alert = jQuery('<span/>', {
                    'class': 'crm-card-alert text-' + card.alert.severity,
                    'title': card.alert.summary,
                    'aria-label': card.alert.summary,
                }).appendTo(top);
                Sao.common.ICONFACTORY.get_icon_img(card.alert.icon)
                    .appendTo(alert);
            }
            if (card.owner_initials) {
                jQuery('<span/>', {
                    'class': 'crm-card-owner',
                    'title': card.owner,
                }).text(card.owner_initials).appendTo(top);
            }
            if (card.description) {
                jQuery('<div/>', {'class': 'crm-card-description'})
                    .text(card.description).appendTo(el);
            }
            var bottom = jQuery('<div/>', {'class': 'crm-card-bottom'})
                .appendTo(el);
            jQuery('<span/>', {'class': 'crm-card-amount'})
                .text(card.amount).appendTo(bottom);
            if (card.expected_close_date) {
                jQuery('<span/>', {'class': 'crm-card-close text-muted'})
                    .text(card.expected_close_date).appendTo(bottom);
            }
            if (card.next_activity) {
                jQuery('<div/>', {
                    'class': 'crm-card-activity' + (
                        card.next_activity.overdue ? ' text-danger' : ''),
                }).text(labels.next_activity + ': '
                    + card.next_activity.subject + ' · '
                    + card.next_activity.due).appendTo(el);
            }
            jQuery('<button/>', {
                'type': 'button',
                'class': 'btn btn-default btn-xs crm-card-move',
            }).text(labels.move_to).click((evt) => {
                evt.stopPropagation();
                this.ask_stage(card);
            }).appendTo(el);
            el.click(() => this.open(card));
            el.keydown((evt) => {
                if (evt.key === 'Enter') {
                    this.open(card);
                }
            });
            return el;
        },
        open: function(card) {
            Sao.Tab.create({
                'model': 'sale.opportunity',
                'res_id': card.id,
                'mode': ['form', 'tree'],
                'context': {},
            });
        },
        new_lead: function(column) {
            Sao.Tab.create({
                'model': 'sale.opportunity',
                'mode': ['form', 'tree'],
                'context': {
                    'default_pipeline': this.pipeline,
                    'default_stage': column.id,
                },
            }).then(() => {
                var tab = Sao.Tab.tabs.get_current();
                if (tab && tab.screen) {
                    tab.screen.new_();
                }
            });
        },
        column: function(stage) {
            return this.data.columns.find((c) => c.id === stage);
        },
        ask_stage: function(card) {
            var labels = this.data.labels;
            var dialog = new Sao.Dialog(
                labels.move_to, 'crm-board-move-dialog', 'sm');
            var list = jQuery('<div/>', {'class': 'list-group'})
                .appendTo(dialog.body);
            var current = this.data.columns.find(
                (c) => c.cards.some((k) => k.id === card.id));
            for (const column of this.data.columns) {
                jQuery('<button/>', {
                    'type': 'button',
                    'class': 'list-group-item' + (
                        column === current ? ' active' : ''),
                    'disabled': column === current,
                    'data-stage': column.id,
                }).text(column.name).click(() => {
                    dialog.modal.modal('hide');
                    this.move(card.id, column.id);
                }).appendTo(list);
            }
            jQuery('<button/>', {
                'type': 'button',
                'class': 'btn btn-link',
                'data-dismiss': 'modal',
            }).text(labels.cancel).appendTo(dialog.footer);
            dialog.modal.on('hidden.bs.modal', function() {
                jQuery(this).remove();
            });
            dialog.modal.modal('show');
        },
        ask_lost_reason: function() {
            var labels = this.data.labels;
            var dfd = jQuery.Deferred();
            rpc('model.crm.lost_reason.search_read',
                [[], 0, null, null, ['rec_name']]).then((reasons) => {
                var dialog = new Sao.Dialog(
                    labels.lost_reason, 'crm-board-lost-dialog', 'sm');
                jQuery('<p/>', {'class': 'help-block'})
                    .text(labels.lost_reason_help).appendTo(dialog.body);
                var select = jQuery('<select/>', {
                    'class': 'form-control',
                    'name': 'lost_reason',
                    'aria-label': labels.lost_reason,
                    'required': true,
                }).appendTo(dialog.body);
                select.append(jQuery('<option/>', {'value': ''}));
                for (const reason of reasons) {
                    select.append(jQuery('<option/>', {'value': reason.id})
                        .text(reason.rec_name));
                }
                var chosen = null;
                jQuery('<button/>', {
                    'type': 'button',
                    'class': 'btn btn-link',
                    'data-dismiss': 'modal',
                }).text(labels.cancel).appendTo(dialog.footer);
                var ok = jQuery('<button/>', {
                    'type': 'submit',
                    'class': 'btn btn-primary',
                    'disabled': Boolean(reasons.length),
                }).text(labels.ok).appendTo(dialog.footer);
                select.change(() => {
                    ok.prop('disabled', reasons.length && !select.val());
                });
                dialog.content.submit((evt) => {
                    evt.preventDefault();
                    chosen = select.val() ? Number(select.val()) : null;
                    dialog.modal.modal('hide');
                });
                dialog.modal.on('hidden.bs.modal', function() {
                    jQuery(this).remove();
                    if (chosen !== null || !reasons.length) {
                        dfd.resolve(chosen);
                    } else {
                        dfd.reject();
                    }
                });
                dialog.modal.modal('show');
            }, dfd.reject);
            return dfd.promise();
        },
        move: function(id, stage) {
            // Dimmed from the drop until the board is read again: the card
            // already shows in its new column while the write is on its way.
            this.el.addClass('crm-board-loading');
            var column = this.column(stage);
            var values = {'stage': stage};
            var prm = jQuery.when(values);
            if (column && column.state === 'lost') {
                prm = this.ask_lost_reason().then((reason) => {
                    if (reason) {
                        values.lost_reason_type = reason;
                    }
                    return values;
                });
            }
            // Moved or refused (sao shows the workflow's message), the
            // board is read again: a refused card goes back to its column.
            return prm.then((values) => rpc(
                'model.sale.opportunity.write', [[id], values]))
                .always(() => this.load());
        },
    });

    // A form's actions (the group Tryton's modules name "buttons") are
    // marked so that on a phone they stay in reach at the bottom of the
    // screen instead of after every field and list (custom.css).
    var group_init = Sao.View.Form.Group.prototype.init;
    Sao.View.Form.Group.prototype.init = function(attributes) {
        group_init.apply(this, arguments);
        if (attributes.id === 'buttons') {
            this.el.addClass('crm-form-buttons');
        }
    };

    // The board is a tab that stays open: what opened it (the actions run
    // at login, before sao draws the menu) does not wait for it to end.
    var create_wizard = Sao.Wizard.create;
    Sao.Wizard.create = function(attributes) {
        var prm = create_wizard.apply(this, arguments);
        if (attributes.action === 'crm.pipeline.board') {
            return jQuery.when();
        }
        return prm;
    };

    Sao.View.FormXMLViewParser.WIDGETS.pipeline_board =
        Sao.View.Form.PipelineBoard;
    // Tryton's view schema takes only its own widgets: crm_kit_desk's
    // board view asks for this one with mode="pipeline_board".
    var parse_field = Sao.View.FormXMLViewParser.prototype._parse_field;
    Sao.View.FormXMLViewParser.prototype._parse_field = function(
        node, attributes) {
        if (attributes.mode === 'pipeline_board') {
            attributes.widget = 'pipeline_board';
            attributes.nolabel = true;
        }
        return parse_field.call(this, node, attributes);
    };
}());
